// The value axis: a rounded top and evenly spaced ticks (steps of 1, 2 or 5 times a power of 10),
// and the number formats of ticks and value labels.

/** The axis from 0 for values up to `max`: `{ top, step, ticks }`, about `count` ticks. */
export function niceAxis(max, count = 5) {
  const high = Number.isFinite(max) && max > 0 ? max : 1;
  const rough = high / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const top = Math.ceil(high / step - 1e-9) * step;
  const ticks = [];
  for (let i = 0; i * step <= top + step / 1e6; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { top, step, ticks };
}

/** A tick label: grouped thousands, as many decimals as the step needs. */
export function formatTick(value, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return formatNumber(value, digits);
}

/** `12,345` / `0.95`: en-US grouping, fixed decimals. */
export function formatNumber(value, digits) {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
