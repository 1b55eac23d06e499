/**
 * A throwaway certificate authority for a control plane that authenticates
 * client certificates only (the CRD-only server: its delegated authentication
 * has no token file, and token reviews need an API it lacks). One CA signs the
 * loopback serving certificate and an admin client certificate in
 * `system:masters`. RSA keys come from Node's crypto (fast, native);
 * node-forge builds and signs the certificates. Valid for a week.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const VALID_MS = 7 * 24 * 3600 * 1000;

export interface PemPair {
  cert: string;
  key: string;
}

export interface ClientCertAuthority {
  /** PEM of the CA certificate (the kubeconfig's certificate-authority, the server's --client-ca-file). */
  ca: string;
  /** Serving certificate for 127.0.0.1 and localhost. */
  serving: PemPair;
  /** Client certificate CN=<user>, O=system:masters. */
  admin: PemPair;
}

interface KeyPair {
  pem: string;
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

function keyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function certificate(subject: forge.pki.CertificateField[], issuer: forge.pki.CertificateField[], publicKey: forge.pki.PublicKey, extensions: object[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  // Positive and unique: random, with the high bit clear.
  cert.serialNumber = `0${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + VALID_MS);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.publicKey = publicKey;
  cert.setExtensions(extensions);
  return cert;
}

export function createClientCertAuthority(adminUser: string): ClientCertAuthority {
  const caKeys = keyPair();
  const caName = [{ name: 'commonName', value: 'asa-bench-ca' }];
  const caCert = certificate(caName, caName, caKeys.publicKey, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const leaf = (subject: forge.pki.CertificateField[], usage: object, extra: object[]): PemPair => {
    const keys = keyPair();
    const cert = certificate(subject, caName, keys.publicKey, [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', ...usage },
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
      ...extra,
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
  };
  const serving = leaf([{ name: 'commonName', value: 'asa-bench-apiserver' }], { serverAuth: true }, [
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
      ],
    },
  ]);
  const admin = leaf(
    [
      { name: 'commonName', value: adminUser },
      { name: 'organizationName', value: 'system:masters' },
    ],
    { clientAuth: true },
    [],
  );
  return { ca: forge.pki.certificateToPem(caCert), serving, admin };
}
