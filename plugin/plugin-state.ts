// plugin/plugin-state.ts
// Process-wide state of the plugin, kept apart from the manifest so that the start-up script can
// tell whether EG really ran `init` (EG only logs a plugin that fails to load, and carries on).

export const pluginState = {
  initCount: 0,
  processHooksInstalled: false,
  settings: {} as Readonly<Record<string, unknown>>,
};
