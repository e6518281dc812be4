// `npm install` step: keep a prebuild (prebuilds/<platform>-<arch>/) or an
// existing build (build/Release/) when it loads here, else compile with
// cmake-js. This is node-gyp-build's own install logic (its bin can only run
// node-gyp, which has no CMake support), quiet when a build is needed, and
// honouring --build-from-source. A CUDA build happens only where nvcc is
// found; without it the addon is CPU-only, so no GPU, driver or CUDA toolkit
// is ever needed to install. RAZER_CUDA_ARCHS=90a (say) shortens the build.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fromSource =
  process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');

if (!fromSource) {
  try {
    require('node-gyp-build')(root);
    process.exit(0);
  } catch {
    // none that loads: build one
  }
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, fromSource ? 'rebuild' : 'compile'], { cwd: root, stdio: 'inherit' });
if (r.error) console.error(`nvfp4-razer: could not run cmake-js: ${r.error.message}`);
process.exit(r.status ?? 1);
