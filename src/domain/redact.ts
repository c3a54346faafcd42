/** Text that must never be printed, stored or logged: credentials and their encodings. */

/** The forms in which Prefect credentials can show up in text: as given, base64 (Basic), the password part. */
export function prefectCredentialTexts(apiKey?: string, authString?: string): string[] {
  const texts: string[] = [];
  if (apiKey) texts.push(apiKey);
  if (authString) {
    texts.push(authString, Buffer.from(authString).toString('base64'));
    const password = authString.slice(authString.indexOf(':') + 1);
    if (password) texts.push(password);
  }
  // Too short to replace safely: "a" would blank every "a" in a message.
  return texts.filter((text) => text.length >= 4);
}

/**
 * Replaces each secret, and the password of any URL (by its position:
 * between `user:` and `@`), with [redacted].
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]+)@/gi, '$1[redacted]@');
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** A JSON value with every string scrubbed (error bodies that echo a header back). */
export function redactValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, redactValue(item, secrets)]),
    );
  }
  return value;
}
