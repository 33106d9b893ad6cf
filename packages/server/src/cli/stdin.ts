import { text } from "node:stream/consumers";

/** All of stdin as text (a payload piped in with `-`). */
export function readStdin(): Promise<string> {
  return text(process.stdin);
}
