//! A throw-away PKI made with `openssl` (Debian package openssl): a CA, a server certificate for
//! 127.0.0.1 and a client certificate, both signed by the CA, as a platform team's internal CA
//! would issue them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files of a test PKI, in a temporary directory that lives as long as this value.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The server certificate (PEM, `subjectAltName = IP:127.0.0.1`) and its key.
    pub server_cert: PathBuf,
    /// The server certificate's key (PEM).
    pub server_key: PathBuf,
    /// A client certificate (PEM, `CN=sfgate`, for client authentication) and its key.
    pub client_cert: PathBuf,
    /// The client certificate's key (PEM).
    pub client_key: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian package openssl) runs");
    assert!(status.success(), "openssl {args:?} failed");
}

impl TestPki {
    /// Generates the CA and both certificates.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        openssl(
            path,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=sfgate-test-ca",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        );
        for (name, subject, usage) in [
            (
                "server",
                "/CN=127.0.0.1",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "/CN=sfgate", "extendedKeyUsage=clientAuth\n"),
        ] {
            let (key, csr, ext, cert) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.ext"),
                format!("{name}.crt"),
            );
            openssl(
                path,
                &[
                    "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key,
                    "-out", &csr,
                ],
            );
            std::fs::write(path.join(&ext), usage).unwrap();
            openssl(
                path,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "1",
                    "-extfile",
                    &ext,
                    "-out",
                    &cert,
                ],
            );
        }
        Self {
            ca_cert: path.join("ca.crt"),
            server_cert: path.join("server.crt"),
            server_key: path.join("server.key"),
            client_cert: path.join("client.crt"),
            client_key: path.join("client.key"),
            _dir: dir,
        }
    }
}
