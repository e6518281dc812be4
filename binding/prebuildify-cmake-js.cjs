#!/usr/bin/env node
// prebuildify drives node-gyp (`<node-gyp> rebuild --target=... --arch=...
// --release`); this stands in for it and builds with cmake-js instead, so that
// `npm run prebuild` packs the same CMake build as `npm install` makes.
// prebuildify then takes build/Release/*.node, strips it and moves it to
// prebuilds/<platform>-<arch>/<package name>.node, where node-gyp-build finds it.
'use strict';
const { spawnSync } = require('node:child_process');

const debug = process.argv.includes('--debug');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'rebuild', ...(debug ? ['--debug'] : [])];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
