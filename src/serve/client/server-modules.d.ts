// Node's modules as the page's typecheck sees them. src/serve/views.ts, whose answer types
// the page reads, reaches src/config/serve.ts, which imports these for the CLI's side (the
// token, the host check). The page only imports types from there, so it never loads them;
// the page's own code gets no Node types at all, and esbuild, bundling for the browser,
// refuses a node: import.
declare module 'node:crypto';
declare module 'node:net';
