/**
 * Loads an ES-module-only package from CommonJS test code. TypeScript compiles `import()` to
 * `require()` under `module: commonjs`, which such packages refuse; a Function-wrapped import
 * survives compilation and runs Node's real ESM loader.
 */
const nativeImport = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<unknown>;

/**
 * @param specifier Package or file specifier.
 * @returns The module namespace, typed by the caller.
 */
export async function importEsm<T>(specifier: string): Promise<T> {
  return (await nativeImport(specifier)) as T;
}
