/** The version, from package.json (bundled into the binary). */
import { version as packageVersion } from "../package.json";

export const version: string = packageVersion;
