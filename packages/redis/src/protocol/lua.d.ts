// The one declaration of `?raw` Lua imports for dlock's Redis packages (@dlock/redis includes it
// through `src`, @dlock/redlock through its tsconfig.json). `?raw` gives a file's text: Vite
// (vitest) does this natively, and tsup.base.ts maps the same suffix onto esbuild's text loader,
// so one import works in both.
declare module '*.lua?raw' {
  const source: string;
  export default source;
}
