/**
 * The one message protocol between the extension host (src/extension/sessionPanel.ts) and the session webview
 * (webview/main.ts). Both bundles import these types; nothing here runs. The view says `ready` first; the host answers
 * with the full `state` and then sends increments.
 */
import type { ObjectiveKind } from '../src/core/objective';
import type { TrialRecord, ConfigValue, Config } from '../src/core/types';

export type SessionStatus = 'preparing' | 'running' | 'paused' | 'completed' | 'stopped' | 'failed' | 'idle';

export interface KnobView {
  name: string;
  values: ConfigValue[];
  meaning: string;
  stage: string;
}

export interface ProposalView {
  /** Stable id of this pending proposal (its trial index). */
  id: number;
  config: Config;
  rationale?: string;
  expectedEffect?: string;
  counterintuitive?: string;
  source?: string;
}

export interface RunningView {
  index: number;
  config: Config;
  rationale?: string;
  message?: string;
}

export interface SessionState {
  sessionId: string;
  /** The .haqa root holding the session. */
  root: string;
  model: string;
  hardware: string;
  toolchain: string;
  /** The objective in words, for display (describeObjective). */
  objective: string;
  /** What the objective maximises: the charts' y axis follows it (webview/model.ts chartMetric). */
  objectiveKind: ObjectiveKind;
  strategy: string;
  status: SessionStatus;
  stopReason?: string;
  review: 'each' | 'auto';
  /** Whether this window runs the session (controls work) or only shows a stored one. */
  live: boolean;
  budget: number;
  trials: TrialRecord[];
  /** The verdict's trial (★ best), the trials tied with it beyond noise (≈ best), and the verdict in one sentence. */
  best?: number;
  tied: number[];
  verdict?: string;
  pareto: number[];
  /** The trial whose deploy files were applied (session.json `deployed`): marked "deployed". */
  deployed?: number;
  knobs: KnobView[];
  pending?: ProposalView;
  running?: RunningView;
  /** The agent's explanations by trial, and its token use in one line. */
  explanations?: Record<number, string>;
  llmUsage?: string;
  limits: { maxSizeMiB?: number; maxDeltaPplPct?: number; maxKld?: number };
}

export type HostMessage =
  | { type: 'state'; state: SessionState }
  | { type: 'trial'; trial: TrialRecord; best?: number; tied: number[]; pareto: number[]; verdict?: string }
  | { type: 'pending'; pending?: ProposalView }
  | { type: 'running'; running?: RunningView }
  | { type: 'status'; status: SessionStatus; stopReason?: string; review: 'each' | 'auto' }
  | { type: 'override-result'; id: number; ok: boolean; reasons: string[] }
  | { type: 'notice'; text: string; level: 'info' | 'error' };

export type ViewMessage =
  | { type: 'ready' }
  | { type: 'proposal'; action: 'accept' | 'skip' | 'accept-all'; id: number }
  | { type: 'override'; id: number; config: Config }
  | { type: 'control'; action: 'pause' | 'resume' | 'stop' }
  | { type: 'accept-config'; trial: number }
  | { type: 'try-it'; trial: number }
  /** The HAQA terminal (every tool's live output), shown on demand: it never opens by itself. */
  | { type: 'show-terminal' }
  /** The view's own state (sort order), kept by the host too, in case VS Code's copy is lost (a browser refresh). */
  | { type: 'view-state'; sort: NonNullable<ViewPersisted['sort']> };

/** What the webview keeps across hide/show and window reloads (vscode.setState; the serializer reads it). */
export interface ViewPersisted {
  sessionId: string;
  root: string;
  sort?: { column: string; descending: boolean };
  /** Whether the review card lists every knob (the toggle; closed by default: the card shows what changed). */
  allKnobs?: boolean;
}

export const VIEW_TYPE = 'haqa.session';
