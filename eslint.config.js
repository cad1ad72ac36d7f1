// Type-aware linting: the rules that catch un-awaited work and unsafe values need the type checker.
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@kubernetes/client-node', message: 'Only src/kube/ talks to the Kubernetes client library.' },
          ],
        },
      ],
    },
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
  {
    // The product never depends on the local cluster, which is development tooling (DESIGN §6):
    // the image and the operator's layers hold src/ alone.
    files: ['src/**'],
    ignores: ['src/kube/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: '@kubernetes/client-node', message: 'Only src/kube/ talks to the Kubernetes client library.' }],
          patterns: [{ group: ['**/local/*', '../../local/**'], message: 'src/ is the product; the local cluster (local/) may use it, never the other way round.' }],
        },
      ],
    },
  },
  {
    files: ['src/kube/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  { files: ['eslint.config.js', 'bin/**/*.js'], ...tseslint.configs.disableTypeChecked },
);
