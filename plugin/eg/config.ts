// plugin/eg/config.ts
// Prepares EG's config singleton before EG requires it. EG loads `models/*.json` from the config
// directory and crashes when they are missing; an operator's directory holding only the two YAML
// files must boot, so the models fall back to EG's bundled copies. The singleton is built with
// EG's own Config class and placed in the require cache under EG's module id.

import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import type { EgConfig } from './types';

const EG_CONFIG_MODULE = require.resolve('express-gateway/lib/config');
const EG_BUNDLED_CONFIG_DIR = path.dirname(require.resolve('express-gateway/lib/config/system.config.yml'));

export function prepareEgConfig(configDir: string): EgConfig {
  const ConfigClass = require('express-gateway/lib/config/config') as new () => EgConfig & { loadModels(): void };
  const config = new ConfigClass();
  const hasModels = fs.existsSync(path.join(configDir, 'models', 'users.json'));
  process.env['EG_CONFIG_DIR'] = hasModels ? configDir : EG_BUNDLED_CONFIG_DIR;
  config.loadModels();
  process.env['EG_CONFIG_DIR'] = configDir;
  config.loadConfig('system');
  config.loadConfig('gateway');

  const cached = new Module(EG_CONFIG_MODULE);
  cached.filename = EG_CONFIG_MODULE;
  cached.exports = config;
  cached.loaded = true;
  require.cache[EG_CONFIG_MODULE] = cached;
  return config;
}
