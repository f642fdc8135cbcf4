// Text for SVG: escaped for XML, with the characters XML 1.0 forbids dropped.

// The characters XML 1.0 cannot hold at all (an error text may carry them).
const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** `text` safe inside an SVG element or a double-quoted attribute. */
export function escapeXml(text) {
  return String(text)
    .replace(forbidden, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `name="value"` pairs, skipping undefined values; numbers rounded to 0.1 so output is stable. */
export function attributes(attrs) {
  return Object.entries(attrs)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}="${escapeXml(typeof value === 'number' ? round1(value) : value)}"`)
    .join(' ');
}

/** One element: `<name attrs>children</name>`, or self-closed without children. */
export function element(name, attrs, children) {
  const open = `<${name} ${attributes(attrs)}`;
  return children === undefined || children === '' ? `${open}/>` : `${open}>${children}</${name}>`;
}

export function round1(value) {
  return Math.round(value * 10) / 10;
}
