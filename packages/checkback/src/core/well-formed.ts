const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The text with every unpaired UTF-16 surrogate replaced by U+FFFD, which is what a UTF-8
 * encoder writes for one anyway (String.prototype.toWellFormed, which TypeScript's ES2022 library
 * does not declare).
 */
export function wellFormed(text: string): string {
  return text.replace(UNPAIRED_SURROGATE, "\uFFFD");
}
