/** The extension's settings (`haqa.*`), read fresh each time. Names mirror the CLI's flags. */
import * as vscode from 'vscode';
import { DEFAULT_LLM, DEFAULT_MODEL, checkBaseUrl, type LlmSettings } from '../core/agent/settings';
import type { ObjectiveKind } from '../core/objective';

export type ReviewMode = 'each' | 'auto';

export interface HaqaSettings {
  review: ReviewMode;
  strategy: string;
  budget: number;
  objective: ObjectiveKind;
  accuracy: boolean;
  confirm: boolean;
  reference: boolean;
  stopEarly: boolean;
  evalChunks: number;
  /** Longest one tool step may run, in minutes; undefined = the tools' defaults (60; bench 30). */
  stepTimeoutMin?: number;
  /** Stop a session after this many minutes; undefined = no limit. */
  timeBudgetMin?: number;
  /** The context the deployment serves (measured at half of it); undefined = none given. */
  context?: number;
  /** Memory limit per GPU in MiB (llama.cpp's projection before a trial, the peak after); undefined = none. */
  maxVramMb?: number;
  deployConfigPath: string;
  ollamaModelfile: boolean;
  llm: { baseUrl?: string; model?: string; temperature?: number; maxPromptTokens?: number };
  /** Machine-scoped: a workspace cannot point these elsewhere. */
  binDir?: string;
  cacheDir?: string;
}

export function readSettings(): HaqaSettings {
  const c = vscode.workspace.getConfiguration('haqa');
  const str = (k: string) => {
    const v = c.get<string>(k);
    return v && v.trim() ? v.trim() : undefined;
  };
  return {
    review: c.get<ReviewMode>('review', 'each'),
    strategy: c.get<string>('strategy', 'auto'),
    budget: c.get<number>('budget', 12),
    objective: c.get<ObjectiveKind>('objective', 'decode'),
    accuracy: c.get<boolean>('accuracy', true),
    confirm: c.get<boolean>('confirm', true),
    reference: c.get<boolean>('reference', true),
    stopEarly: c.get<boolean>('stopEarly', true),
    evalChunks: c.get<number>('evalChunks', 8),
    stepTimeoutMin: positive(c.get<number | null>('stepTimeoutMinutes')),
    timeBudgetMin: positive(c.get<number | null>('timeBudgetMinutes')),
    context: positive(c.get<number | null>('context')),
    maxVramMb: positive(c.get<number | null>('maxVramMb')),
    deployConfigPath: c.get<string>('deployConfigPath', 'haqa.deploy.json'),
    ollamaModelfile: c.get<boolean>('deploy.ollamaModelfile', false),
    llm: {
      baseUrl: str('llm.baseUrl'),
      model: str('llm.model'),
      temperature: c.get<number | null>('llm.temperature') ?? undefined,
      maxPromptTokens: c.get<number>('llm.maxPromptTokens'),
    },
    binDir: str('llamacpp.binDir'),
    cacheDir: str('cacheDir'),
  };
}

/** The agent's settings from `haqa.llm.*`; undefined when no endpoint is configured. */
export function llmSettingsFrom(s: HaqaSettings): LlmSettings | undefined {
  const l = s.llm;
  if (!l.baseUrl) return undefined;
  return {
    ...DEFAULT_LLM,
    baseUrl: checkBaseUrl(l.baseUrl),
    model: l.model ?? DEFAULT_MODEL,
    temperature: l.temperature,
    maxPromptTokens: l.maxPromptTokens ?? DEFAULT_LLM.maxPromptTokens,
  };
}

/** A number setting that must be > 0 to mean anything (0, negatives and junk: unset). */
const positive = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
