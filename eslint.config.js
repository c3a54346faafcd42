// typescript-eslint's type-aware rules (no-floating-promises above all) are
// the reason we stay on TypeScript 6.0: typescript-eslint does not support 7.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Functions a newcomer reads in one sitting. Files follow cohesion, not a
    // count: a warning past 400 lines asks whether it is still one idea.
    files: ['src/**'],
    ignores: ['src/**/*.generated.ts'],
    rules: {
      'max-lines': ['warn', { max: 400 }],
      'max-lines-per-function': ['error', { max: 60 }],
    },
  },
  { files: ['test/**', 'bench/**', 'scripts/**'], rules: { 'no-console': 'off' } },
  {
    // Tests read JSON from real APIs; typing every response would bury the assertions.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The console's page script: plain JavaScript run by the browser (no build, no types).
    files: ['console/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, program: null },
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'location',
          'fetch',
          'EventSource',
          'Option',
          'URLSearchParams',
          'setTimeout',
          'clearTimeout',
          'localStorage',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
