/**
 * Money travels between the services as integer cents and reaches Alipay as a decimal string
 * ("88.00"). Parsing that string by hand (not through a float) keeps 0.1 + 0.2 out of the books.
 */
export function formatAmount(cents: number): string {
  if (!Number.isInteger(cents) || cents <= 0)
    throw new Error(`amount must be a positive number of cents, got ${cents}`);
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** "88", "88.5", "88.50" → 8850; anything else (negative, three decimals, "1e3") → null. */
export function parseAmount(text: unknown): number | null {
  if (typeof text !== "string") return null;
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}
