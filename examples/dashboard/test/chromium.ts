// Chromium for the dashboard's tests: the shared launcher in tests/kit (`@lifeline/test-kit/browser`).
export { CHROMIUM_PATH, launchChromium, openPage, type Chromium } from '@lifeline/test-kit/browser';
