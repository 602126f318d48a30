/**
 * The words "HAQA: Optimize Model"'s steps show from the chosen model: the size step's placeholder and prompt (the
 * source's size, what the smallest types weigh), the ΔPPL step's (what 1 % and 5 % mean), the trials step's (how long
 * the session will take: core/estimate.ts). Pure (no vscode import), so test/unit tests them.
 */
import { UNQUANTIZED_FILE_TYPES } from '../core/ggml';
import type { SessionEstimate } from '../core/estimate';
import type { ModelInfo } from '../core/types';

const MiB = 2 ** 20;
/** MiB with one decimal, or whole above 100 ("10.6", "4120"). */
export const mibText = (bytes: number): string => {
  const m = bytes / MiB;
  return m >= 100 ? String(Math.round(m)) : m.toFixed(1);
};

/** Bits per weight of the plainest 8- and 4-bit types (llama.cpp's Q8_0: 34 bytes per 32 weights; Q4_0: 18). */
const BPW = { Q8_0: 8.5, Q4_0: 4.5 } as const;

/** Whether trials of this model make quantized files (an F32/F16/BF16 source) or only vary runtime knobs. */
export const searchesQuants = (m: Pick<ModelInfo, 'fileType'>): boolean => UNQUANTIZED_FILE_TYPES.has(m.fileType);

/** The size step's placeholder and prompt: the source's size, and about what Q8_0 and Q4_0 files of it weigh. */
export function sizeStepText(m: Pick<ModelInfo, 'fileType' | 'sizeBytes' | 'parameterCount'>): {
  placeholder: string;
  prompt: string;
} {
  const source = `${mibText(m.sizeBytes)} MiB`;
  if (!searchesQuants(m))
    return {
      placeholder: `no limit (the source, already ${m.fileType}, is ${source})`,
      prompt:
        `Empty for no limit. The source is already ${m.fileType}: only runtime knobs are searched, ` +
        `so every trial's file is the source's ${source}.`,
    };
  const at = (bpw: number) => mibText((m.parameterCount * bpw) / 8);
  return {
    placeholder: `no limit (the ${m.fileType} source is ${source})`,
    prompt:
      `Largest model file in MiB; empty for no limit. The ${m.fileType} source is ${source}; about ` +
      `${at(BPW.Q8_0)} MiB at Q8_0 and ${at(BPW.Q4_0)} MiB at Q4_0 (${BPW.Q8_0} and ${BPW.Q4_0} bits a weight).`,
  };
}

/** The ΔPPL step's placeholder and prompt: what the limit measures, and what 1 % and 5 % mean. */
export function dpplStepText(): { placeholder: string; prompt: string } {
  return {
    placeholder: 'no limit (e.g. 1 or 5)',
    prompt:
      'Largest perplexity increase over the source on the evaluation text, in %; empty for no limit. ' +
      '1 %: close to the source (8- and 6-bit types usually stay below it); ' +
      '5 %: a noticeable loss (about what 4- and 3-bit types can cost; small models lose more).',
  };
}

/** The trials step's prompt: the estimate for this many trials and how it was computed. */
export function trialsStepPrompt(trials: number, e: SessionEstimate): string {
  return `${trials} trial${trials === 1 ? '' : 's'}: ${e.range} (${e.how}).`;
}
