/**
 * `message` on one line, with every form of the URL's password, and each of `otherSecrets`,
 * replaced by `***`: what the service prints when it cannot start, and `db:migrate` when it fails.
 */
export function redact(message: string, url: string | undefined, otherSecrets: readonly string[] = []): string {
  let line = message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  let password = '';
  try {
    password = url ? new URL(url).password : '';
  } catch {
    // not a URL: nothing to take a password from
  }
  for (const secret of new Set([password, safeDecode(password), ...otherSecrets])) {
    if (secret) line = line.split(secret).join('***');
  }
  return line;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
