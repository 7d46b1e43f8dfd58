/** Vite's `?raw` imports (a file's text), used for the form-encoded Slack corpus files. */
declare module "*?raw" {
  const content: string;
  export default content;
}
