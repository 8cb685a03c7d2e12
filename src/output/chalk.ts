// chalk, imported only by paintFor() when colour is on; build.mjs bundles it apart (dist/chalk.cjs).
export { Chalk } from 'chalk';
