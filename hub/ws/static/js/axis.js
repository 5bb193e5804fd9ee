// Time and value axis helpers for the plot: tick steps and labels.

export const STEPS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300,
  600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 7776000,
  31536000,
];

function pad2(n) {
  return String(n).padStart(2, "0");
}

/** Format an epoch-seconds tick for an axis whose tick step is `step` seconds. */
export function formatTick(t, step) {
  const d = new Date(t * 1000);
  const hms = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (step >= 86400) return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (step >= 60) return hms;
  if (step >= 1) return `${hms}:${pad2(d.getSeconds())}`;
  return `${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** A "nice" number near `range / n` for value-axis ticks. */
export function niceStep(range, n) {
  const raw = range / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}
