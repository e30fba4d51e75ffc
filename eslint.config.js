import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'prebuilds/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] },
  },
  {
    // Every tensor of the library is made through lib/tensor.ts, which puts it on the default device.
    files: ['lib/**/*.ts'],
    ignores: ['lib/tensor.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='native'][callee.property.name=/^(fromArray|empty|full)$/]",
          message: 'make tensors through lib/tensor.ts (tensor, full, empty, nativeFromArray, ...), which applies the device',
        },
      ],
    },
  },
);
