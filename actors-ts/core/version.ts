/** This software's version, from package.json (the `version` field of every /info and record). */
export const SOFTWARE_VERSION: string = (require("../../package.json") as { version: string }).version;
