// `?raw` imports give a file's text: Vite (vitest) does this natively, and tsup.config.ts in this
// package maps the same suffix onto esbuild's text loader, so one import works in both.
declare module '*.lua?raw' {
  const source: string;
  export default source;
}
