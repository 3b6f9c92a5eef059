/**
 * The one form of a certificate serial number pgmoat prints and compares: lowercase hex of the
 * integer in whole bytes, without the leading zero bytes (a DER sign byte included), `00` for
 * zero. That is what `pgmoat list`, `openssl x509 -serial` and Node's `serialNumber` show (Node
 * in upper case), so a grep for a serial from `pgmoat list` finds its log lines. Input may come
 * in any case, with colons (openssl's `-text`), and with or without leading zeros.
 */

/**
 * The canonical form of a serial read from a certificate or a CRL (Node, @peculiar/x509, the
 * inventory), whatever its case, padding or separators. Anything that is not a hex digit is
 * dropped, as before: such a value never comes from a parsed certificate.
 */
export function normalizeSerial(hex: string): string {
  const digits = hex.replace(/[^0-9a-fA-F]/g, '').toLowerCase().replace(/^0+/, '');
  if (digits === '') return '00';
  return digits.length % 2 === 1 ? `0${digits}` : digits;
}

/**
 * A serial typed by a person (`pgmoat revoke 09:48:51…`): its canonical form, or undefined when
 * the text is not a hex number (a client name, for instance). Colons and surrounding spaces are
 * allowed, nothing else.
 */
export function parseSerial(text: string): string | undefined {
  const hex = text.trim().replace(/:/g, '');
  return /^[0-9a-fA-F]+$/.test(hex) ? normalizeSerial(hex) : undefined;
}
