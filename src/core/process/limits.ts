/** Output limits shared by the runner and the exec wrapper (a separate process). */

/** Most output of one run that is shown live, logged and read back from a capture (32 MiB). */
export const OUTPUT_CAP = 32 * 2 ** 20;

/**
 * A tool that prints more than this (a loop, garbage) is stopped: its capture would fill the disk and HAQA's memory.
 * No llama.cpp result HAQA reads is a thousandth of it.
 */
export const MAX_OUTPUT = 256 * 2 ** 20;
