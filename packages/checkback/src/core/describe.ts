import { wellFormed } from "./well-formed.js";

/**
 * How a value from outside is quoted in an error message or an error's details. The value is
 * whatever a caller sent — a string of a megabyte, an array nested a hundred thousand deep, a
 * BigInt, a cycle, an object whose getters throw — so quoting it must stay short and must never
 * throw: an error raised while describing bad input would replace the typed 400 with a 500.
 * JSON.stringify is none of these (it recurses without bound, throws on BigInt and cycles).
 */

/** Characters of a preview, about one line. */
export const PREVIEW_LENGTH = 80;
/** Nesting levels shown before an inner value is elided as […] or {…}. */
const PREVIEW_DEPTH = 2;
/** Entries shown per array or object before the rest is elided. */
const PREVIEW_ENTRIES = 5;

/** A short, JSON-like rendering of any value, at most about PREVIEW_LENGTH characters. */
export function describeValue(value: unknown): string {
  try {
    return clip(render(value, PREVIEW_DEPTH));
  } catch {
    return `a ${typeof value}`;
  }
}

/**
 * A value as it may appear in an error's details: numbers, booleans and null as they are, short
 * strings as they are, anything else as its preview text. Details are serialized with every
 * error the server answers, so they must be small and plain.
 */
export function boundedDetail(value: unknown): unknown {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" && value.length <= PREVIEW_LENGTH) return value;
  return describeValue(value);
}

function render(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > PREVIEW_LENGTH ? `${value.slice(0, PREVIEW_LENGTH)}…` : value);
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (value === null) return "null";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : value.toISOString();
  if (Array.isArray(value)) {
    if (depth === 0) return value.length === 0 ? "[]" : "[…]";
    const shown = value.slice(0, PREVIEW_ENTRIES).map((item) => render(item, depth - 1));
    if (value.length > PREVIEW_ENTRIES) shown.push("…");
    return `[${shown.join(",")}]`;
  }
  const keys = Object.keys(value as object);
  if (depth === 0) return keys.length === 0 ? "{}" : "{…}";
  const shown = keys
    .slice(0, PREVIEW_ENTRIES)
    .map((key) => `${JSON.stringify(clip(key))}:${render((value as Record<string, unknown>)[key], depth - 1)}`);
  if (keys.length > PREVIEW_ENTRIES) shown.push("…");
  return `{${shown.join(",")}}`;
}

function clip(text: string): string {
  if (text.length <= PREVIEW_LENGTH) return text;
  // Never cut a surrogate pair in half: the preview itself must be well-formed text.
  return `${wellFormed(text.slice(0, PREVIEW_LENGTH))}…`;
}
