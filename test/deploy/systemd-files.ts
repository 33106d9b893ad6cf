import { readFileSync } from "node:fs";

/**
 * Just enough of systemd's file formats to run a unit's ExecStart the way systemd would:
 * unit files (systemd.syntax), environment files (systemd.exec EnvironmentFile=), command
 * lines (systemd.service "Command lines") and specifiers (systemd.unit "Specifiers").
 * Anything the parser does not know is an error, so a unit edited to use more of systemd
 * than this understands makes the test say so instead of running something else.
 */
export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnitFile(path: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = readFileSync(path, "utf8").replace(/\\\n/g, " ").split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (section === undefined || eq <= 0) throw new Error(`${path}:${index + 1}: not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

/** The last value of a setting (later assignments override earlier ones), or undefined. */
export function setting(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** KEY=VALUE lines; # and ; comments; values optionally in single or double quotes. */
export function parseEnvironmentFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [index, raw] of readFileSync(path, "utf8").split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`${path}:${index + 1}: not a VAR=value line: ${line}`);
    const value = match[2]!.trim();
    const quoted = /^(["'])(.*)\1$/.exec(value);
    env[match[1]!] = quoted ? quoted[2]! : value;
  }
  return env;
}

/** Splits a command line into words, honouring double and single quotes, after specifiers. */
export function splitCommandLine(line: string, specifiers: Record<string, string>): string[] {
  const expanded = line.replace(/%(.)/g, (_all, letter: string) => {
    if (letter === "%") return "%";
    const value = specifiers[letter];
    if (value === undefined) throw new Error(`specifier %${letter} is not known to the test`);
    return value;
  });
  if (/\$\{?[A-Za-z_]/.test(expanded))
    throw new Error(`environment variable expansion is not known to the test: ${line}`);
  if (/^[-@:+!]/.test(expanded)) throw new Error(`ExecStart prefixes are not known to the test: ${line}`);
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of expanded.matchAll(pattern)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : (match[2] ?? match[3]!));
  }
  return words;
}

/** "5s", "5", "1min 30s", "500ms" (systemd.time) in milliseconds. */
export function parseTimeSpan(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const pattern = /(\d+(?:\.\d+)?)\s*([a-z]*)/g;
  const compact = text.replace(/\s+/g, " ").trim();
  let consumed = "";
  for (const match of compact.matchAll(pattern)) {
    const unit = match[2] === "" ? "s" : match[2]!;
    const scale = units[unit];
    if (scale === undefined) throw new Error(`time unit ${unit} is not known to the test`);
    total += Number(match[1]) * scale;
    consumed += match[0];
  }
  if (consumed.replace(/\s/g, "") !== compact.replace(/\s/g, "")) throw new Error(`not a time span: ${text}`);
  return total;
}
