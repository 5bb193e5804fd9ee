// Bytes for the websocket: base64 both ways, and the reason of a refused request.

/** Uint8Array → base64 (in chunks: big files do not overflow the call stack). */
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** base64 → Uint8Array. */
export function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** What the hub said about a refused request (or the error's own message). */
export function errorText(e) {
  return (e && e.response && (e.response.reason || e.response.message)) || String(e.message || e);
}
