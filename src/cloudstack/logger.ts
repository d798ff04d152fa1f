/**
 * The logger the CloudStack client and simulator accept: pino-compatible `(object, message)`
 * methods. Nothing logged through it carries an API key, secret key or signature.
 */
export interface CloudStackLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = () => {};

/** A logger that drops everything. */
export const silentLogger: CloudStackLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Builds a function that masks the given secrets in a text, plus any `signature=`/`apikey=`
 * parameter value, so that foreign error messages (a URL in a fetch error…) can be passed on.
 */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const kept = secrets.filter((s) => s.length >= 4);
  return (text) => {
    let out = text.replace(/((?:signature|apikey|secretkey)=)[^&\s"']+/gi, '$1[redacted]');
    for (const secret of kept) {
      out = out.split(secret).join('[redacted]');
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join('[redacted]');
    }
    return out;
  };
}
