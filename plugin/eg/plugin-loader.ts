// plugin/eg/plugin-loader.ts
// EG logs a plugin that fails to load and runs on without it; a pipeline then silently gets EG's
// core policy of the same name. This wraps EG's loader so that start-up fails instead, with the
// cause EG logged.

interface LoadedPlugins { policies: Array<{ name: string }> }
interface PluginsLoader { load(args: { config: unknown }): LoadedPlugins }
interface WinstonLike { error: (...args: unknown[]) => unknown }

/**
 * Makes every EG plugin load (start-up and reload) throw unless all of `policyNames` (the
 * manifest's list) registered.
 */
export function requirePluginOnLoad(policyNames: readonly string[]): void {
  const loader = require('express-gateway/lib/plugins') as PluginsLoader;
  const egPluginsLogger = (require('express-gateway/lib/logger') as { plugins: WinstonLike }).plugins;
  const originalLoad = loader.load;
  loader.load = function loadRequiringOurPlugin(args) {
    const causes: string[] = [];
    const originalError = egPluginsLogger.error;
    egPluginsLogger.error = (...logged: unknown[]) => {
      causes.push(logged.map(String).join(' '));
      return originalError.apply(egPluginsLogger, logged);
    };
    let loaded: LoadedPlugins;
    try {
      loaded = originalLoad.call(loader, args);
    } finally {
      egPluginsLogger.error = originalError;
    }
    const registered = new Set(loaded.policies.map((policy) => policy.name));
    const missing = policyNames.filter((name) => !registered.has(name));
    if (missing.length > 0) {
      throw new Error(`the llm-gateway plugin did not load (policies missing: ${missing.join(', ')}): ${causes.join('; ') || 'it is not declared under plugins: in system.config.yml'}`);
    }
    return loaded;
  };
}
