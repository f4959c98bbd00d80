// A length of time in words, as the server's duration_words filter writes it
// (recaps/templatetags/recaps_tags.py): 42 -> "42 s", 221 -> "3 min 41 s",
// 3900 -> "1 h 5 min". Never rounded up, so kept audio is never overstated.
export function durationWords(seconds) {
  const whole = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return s ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}
