#!/usr/bin/env node
// Installed entry point: the compiled program (`npm run build`).
import '../dist/main.js';
