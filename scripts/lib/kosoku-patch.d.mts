/** The kosoku version the patch is for. */
export declare const PATCHED_KOSOKU_VERSION: string;
/** Marks a patched file (and makes applying the patch idempotent). */
export declare const PATCH_MARKER: string;
/** The patched text of case12_x_x.py (unchanged if already patched; throws if the expected function is missing). */
export declare function patchCaseSource(source: string): string;
/** Patch the kosoku installed in `venv` if it is the affected version; returns what it did. */
export declare function patchInstalledKosoku(venv: string): string;
