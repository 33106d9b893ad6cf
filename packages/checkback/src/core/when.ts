/**
 * A due instant as the stores take it: a delay relative to the store's clock, or an absolute
 * instant (epoch ms). What a user writes ({ delay: "5m" } or { runAt: Date }) is WhenOptions,
 * resolved into this by resolveWhen (core/options.ts).
 */
export type When = { delayMs: number } | { runAt: number };
