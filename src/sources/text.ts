// Task text is data from other people's tools: made safe once, where a record becomes a task, so
// argv (no NUL), dispatch messages, terminals (no escape sequences), logs and the store get clean text.

/** Titles longer than this are cut (a dispatch message names up to 20 of them). */
export const maxTitleLength = 500;
/** Ids and dependency ids longer than this are cut. */
export const maxIdLength = 200;

// ESC sequences first, whole: CSI (ESC [ ... final byte), OSC/DCS/APC/PM/SOS (ESC ] ... BEL or ESC \),
// then any other two-byte ESC sequence; the 8-bit C1 forms (0x9b CSI, 0x9d OSC) likewise.
const escapeSequences = /\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -~]?/g;
// Line breaks and tabs become spaces; every other C0/C1 control, DEL, and the bidirectional
// overrides that make a terminal show text in another order than it is, go.
const breaks = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
const controls = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// Anything the slow path below would change: controls, surrogates (checked there), whitespace
// other than single inner spaces.
const needsWork = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]|[^\S ]| {2}|^ | $/;
const loneSurrogates = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` without control characters and escape sequences, whitespace runs collapsed to one space,
 * trimmed, and at most `maxLength` UTF-16 units long (cut at a character boundary, marked with …).
 */
export function cleanText(text: string, maxLength: number = maxTitleLength): string {
  // Most text is already clean: one scan, and it is returned as it is.
  if (text.length <= maxLength && !needsWork.test(text)) return text;
  // Cut hostile megabytes before the regular expressions see them.
  const cut = text.length > maxLength * 4 + 64;
  let s = cut ? text.slice(0, maxLength * 4 + 64) : text;
  s = s.replace(escapeSequences, '').replace(breaks, ' ').replace(controls, '').replace(loneSurrogates, '\ufffd');
  s = s.replace(/\s+/g, ' ').trim();
  if (s.length <= maxLength && !cut) return s;
  if (s.length < maxLength) return `${s}…`;
  let end = maxLength - 1;
  if (/[\ud800-\udbff]/.test(s[end - 1]!)) end--;
  return `${s.slice(0, end)}…`;
}
