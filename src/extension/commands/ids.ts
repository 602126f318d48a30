/**
 * Every command the extension contributes, in one place: registrations, executeCommand calls, the status bar, the
 * tree and the session panel use these, never a string. test/unit/commands.test.ts keeps this equal to package.json's
 * contributes.commands. No imports: the unit tests load it outside VS Code.
 */
export const Commands = {
  optimizeModel: 'haqa.optimizeModel',
  stopSession: 'haqa.stopSession',
  pauseSession: 'haqa.pauseSession',
  resumeSession: 'haqa.resumeSession',
  acceptConfiguration: 'haqa.acceptConfiguration',
  applyDeployChange: 'haqa.applyDeployChange',
  discardDeployChange: 'haqa.discardDeployChange',
  tryIt: 'haqa.tryIt',
  buildToolchain: 'haqa.buildToolchain',
  showHardwareProfile: 'haqa.showHardwareProfile',
  setApiKey: 'haqa.setApiKey',
  showAgentPrompt: 'haqa.showAgentPrompt',
  refreshTrials: 'haqa.refreshTrials',
  openSession: 'haqa.openSession',
  openTrialLog: 'haqa.openTrialLog',
  rerunTrial: 'haqa.rerunTrial',
  compareWithBest: 'haqa.compareWithBest',
  deleteTrial: 'haqa.deleteTrial',
  deleteSession: 'haqa.deleteSession',
  showTerminal: 'haqa.showTerminal',
  exportModel: 'haqa.exportModel',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];
