import fs from 'node:fs';
import path from 'node:path';

export interface SecretFinding {
  readonly file: string;
  readonly line: number;
  /** What was found, never the secret itself. */
  readonly what: string;
}

/** Values that stand for "no secret here" in the places that print password settings. */
const PLACEHOLDER = /^(?:|null|\[hidden\]|\*+|<redacted>|redacted|\$\{.*\})$/i;

/**
 * `"password":"…"` in JSON (structured logs, a serialised config or error), `password=…` / `password: …` in
 * property files, URLs and Java config dumps, and `user:password@` in connection strings.
 */
const PATTERNS: readonly { readonly name: string; readonly regex: RegExp }[] = [
  { name: 'a JSON "password" field with a value', regex: /"[a-z_]*password"\s*:\s*"([^"]*)"/gi },
  { name: 'a password setting with a value', regex: /\bpassword\s*[=:]\s*"?([^\s",;}]*)/gi },
  { name: 'credentials in a connection URL', regex: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:([^\s@/]+)@/gi },
];

/**
 * Finds secrets in text: any of the given values verbatim (shorter values are too likely to occur by chance to
 * be searched for), and anything shaped like a password assignment whose value is not a placeholder.
 */
export function scanText(text: string, secrets: readonly string[], file = '<text>'): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const values = secrets.filter((secret) => secret.length >= 6);
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    values.forEach((secret, which) => {
      if (line.includes(secret))
        findings.push({ file, line: index + 1, what: `secret #${which + 1} verbatim` });
    });
    for (const { name, regex } of PATTERNS) {
      for (const match of line.matchAll(regex)) {
        if (!PLACEHOLDER.test(match[1] ?? '')) findings.push({ file, line: index + 1, what: name });
      }
    }
  });
  return findings;
}

/** Every regular file under `root` (recursively) whose name matches `include`. */
export function filesUnder(root: string, include: RegExp = /\.(log|out|txt|json)$/): string[] {
  if (!fs.existsSync(root)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(full, include));
    else if (entry.isFile() && include.test(entry.name)) found.push(full);
  }
  return found;
}

export function scanFiles(files: readonly string[], secrets: readonly string[]): SecretFinding[] {
  return files.flatMap((file) => scanText(fs.readFileSync(file, 'utf8'), secrets, file));
}
