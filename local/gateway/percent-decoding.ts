/**
 * URL-decoding as API Gateway applies it to path and query parameters before the function sees them. A value that is
 * not valid percent-encoding is passed on as sent rather than failing the request.
 */
export function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
