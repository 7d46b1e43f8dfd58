/** Vite's `?raw` imports (the JSONC corpus files are read as text and parsed in the test). */
declare module "*?raw" {
  const text: string;
  export default text;
}
