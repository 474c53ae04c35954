/**
 * Unit tests of the frontend's pure modules (labextension/src/__tests__/*.spec.ts), run by
 * `jlpm test`. They need no browser and no JupyterLab: the modules under test import neither.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/labextension/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }]
  }
};
