// How the inspector's script URLs read in incidents and profiles: as file paths where they are files.
// Pure: shared by the stack capture and the CPU profile's top functions.

import { fileURLToPath } from 'node:url';
import { errnoCode } from '../errors.js';

/** A script URL as the inspector reports it, as a file path where it is one. */
export function scriptPath(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return fileURLToPath(url);
  } catch (error) {
    // file://host/... or an encoded '/': keep the URL as the inspector gave it.
    const code = errnoCode(error);
    if (code === 'ERR_INVALID_FILE_URL_HOST' || code === 'ERR_INVALID_FILE_URL_PATH') return url;
    throw error;
  }
}
