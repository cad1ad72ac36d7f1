// Type-aware linting: the rules that catch un-awaited work and unsafe values need the type checker.
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import tseslint from 'typescript-eslint';

const SRC = join(import.meta.dirname, 'src') + sep;

/**
 * Each folder of src/ is reached from outside through its index.ts, its public face; what else
 * it holds is its own business. Inside a folder (and below it) modules import each other freely.
 */
const faces = {
  meta: { type: 'problem', messages: { face: 'Import {{folder}}/ through {{folder}}/index.ts, its public face.' }, schema: [] },
  create(context) {
    const from = dirname(context.filename) + sep;
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = resolve(dirname(context.filename), spec);
      const folder = dirname(target) + sep;
      if (!target.startsWith(SRC) || folder === SRC || from.startsWith(folder) || basename(target) === 'index.ts') return;
      context.report({ node: node.source, messageId: 'face', data: { folder: relative(import.meta.dirname, dirname(target)) } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

/** Restrictions as [import name or pattern, why]: a pattern has a `*`. */
const PRODUCT = [
  ['@kubernetes/client-node', 'Only src/kube/ talks to the Kubernetes client library.'],
  ['**/local/*', 'src/ is the product; the local cluster (local/) may use it, never the other way round.'],
  ['../../local/**', 'src/ is the product; the local cluster (local/) may use it, never the other way round.'],
];
const NO_HTTP = [['**/http/**', 'Controllers and the service layer do not depend on the HTTP layer; what both need lives below them.']];
const NO_CLI = [['**/cli/**', 'The service layer serves the CLI and the HTTP API alike; it depends on neither.']];
const NO_IO = [
  ...['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:http', 'node:https', '@aws-sdk/client-s3'].map((name) => [name, 'A pure module does no I/O; its caller does.']),
  ...['**/data/store/**', '**/data/restic/**', '**/data/mover/**', './store/**', './restic/**', './mover/**', '**/audit/sinks/**'].map((name) => [name, 'Pure decisions about data do not load the S3 client, restic or the mover; the controllers do.']),
  ...['**/kube/**', '**/kube/index.ts'].map((name) => [name, 'A pure module takes objects as values; the Kubernetes API is its caller\'s.']),
  ...['**/runtime/**', '**/controllers/*/index.ts'].map((name) => [name, 'A pure module has no controller machinery (queues, informers, clocks).']),
];
/** The modules that compute without doing: desired state, decisions, parsing. */
const PURE = [
  'src/api/**',
  'src/manifest/**',
  'src/planner/**',
  'src/policy/**',
  'src/lifecycle/**',
  'src/preview/**',
  'src/catalog/**',
  'src/data/*.ts',
  'src/cli/tables/**',
  'src/outbound/destinations.ts',
];

function restrictImports(restrictions) {
  const entries = (pattern) => restrictions.filter(([name]) => name.includes('*') === pattern);
  return {
    'no-restricted-imports': 'off',
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: entries(false).map(([name, message]) => ({ name, message, allowTypeImports: true })),
        patterns: entries(true).map(([group, message]) => ({ group: [group], message, allowTypeImports: true })),
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      ...restrictImports(PRODUCT.slice(0, 1)),
      'grove/faces': 'error',
    },
    plugins: { grove: { rules: { faces } } },
  },
  {
    // Test doubles implement promise-returning interfaces without awaiting anything, and tests
    // walk the plain JSON of Kubernetes objects, which has no useful static type.
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  // The layers (DESIGN "Style"), kept by lint rather than by habit. Each block restates the
  // restrictions of the blocks before it, because a later block replaces a rule's options.
  {
    files: ['src/**'],
    ignores: ['src/kube/**'],
    rules: restrictImports(PRODUCT),
  },
  {
    // Controllers decide and write through the Kubernetes API; HTTP serves them, never the reverse.
    files: ['src/controllers/**'],
    ignores: PURE,
    rules: restrictImports([...PRODUCT, ...NO_HTTP]),
  },
  {
    // The operations people and agents ask for, under both doors (HTTP API and CLI).
    files: ['src/service/**'],
    rules: restrictImports([...PRODUCT, ...NO_HTTP, ...NO_CLI]),
  },
  {
    // Pure layers compute desired state: no I/O of any kind, and no controller machinery. Types
    // may still come from anywhere.
    files: PURE,
    // Their tests read fixtures from disk.
    ignores: ['**/*.test.ts'],
    rules: restrictImports([...PRODUCT, ...NO_HTTP, ...NO_IO]),
  },
  {
    files: ['src/kube/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-restricted-imports': 'off' },
  },
  { files: ['eslint.config.js', 'bin/**/*.js'], ...tseslint.configs.disableTypeChecked },
);
