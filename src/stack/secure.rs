//! The secure stack's credentials: a certificate authority and a `localhost` server
//! certificate made with the `openssl` command (and Java trust and key stores for Flink made
//! with the JDK's `keytool` and `openssl pkcs12`), Kafka SCRAM passwords, and Pulsar's token
//! signing key and JWTs — all generated once into `<state>/stack-secure/secrets/`, a folder only
//! its owner may open, each secret in a file of mode 0600.
//!
//! The users, on Kafka (SCRAM-SHA-512) and Pulsar (token roles) alike:
//!
//! - `admin`: the brokers' own (inter-broker, the health checks), a super user;
//! - `flinkit`: what tables and the bridge use, a super user too (it creates topics, groups and
//!   transactions);
//! - `guest`: a valid user with no permission at all, to see what a missing grant looks like.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{StackError, io};

/// The users every secure broker knows.
pub const USERS: [&str; 3] = ["admin", "flinkit", "guest"];

/// The SASL mechanism the secure Kafka takes.
pub const KAFKA_MECHANISM: &str = "SCRAM-SHA-512";

/// Java's Kafka login module for SCRAM (the broker's).
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// The same module in Flink's SQL Kafka connector, which relocates the Kafka client: what a
/// table's `properties.sasl.jaas.config` names (the unrelocated name is not found there).
pub const FLINK_SCRAM_LOGIN_MODULE: &str =
    "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule";

/// Java's Pulsar token authentication plugin.
pub const PULSAR_TOKEN_PLUGIN: &str = "org.apache.pulsar.client.impl.auth.AuthenticationToken";

/// The credentials of a secure stack, in one folder.
#[derive(Debug, Clone)]
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    /// The credentials under `dir` (made by [`Secrets::ensure`]).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Their folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The certificate authority every service's certificate is signed by (PEM): what a client
    /// trusts.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server certificate (PEM), for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server certificate's private key (PKCS #8 PEM).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// Kafka's PEM key store: the server key followed by its certificate.
    pub fn kafka_keystore(&self) -> PathBuf {
        self.dir.join("kafka-keystore.pem")
    }

    /// Flink's PKCS #12 key store (password [`Secrets::store_password`]).
    pub fn flink_keystore(&self) -> PathBuf {
        self.dir.join("flink-keystore.p12")
    }

    /// Flink's PKCS #12 trust store holding the CA (password [`Secrets::store_password`]).
    pub fn flink_truststore(&self) -> PathBuf {
        self.dir.join("flink-truststore.p12")
    }

    /// The file holding the password of Flink's stores.
    pub fn store_password_file(&self) -> PathBuf {
        self.dir.join("store.password")
    }

    /// The file holding a Kafka user's SCRAM password.
    pub fn kafka_password_file(&self, user: &str) -> PathBuf {
        self.dir.join(format!("kafka-{user}.password"))
    }

    /// The file holding a Pulsar role's token (a JWT).
    pub fn pulsar_token_file(&self, role: &str) -> PathBuf {
        self.dir.join(format!("pulsar-{role}.token"))
    }

    /// Pulsar's token signing key (HMAC-SHA256, raw bytes).
    pub fn pulsar_secret_key(&self) -> PathBuf {
        self.dir.join("pulsar-secret.key")
    }

    /// The password of Flink's stores.
    pub fn store_password(&self) -> Result<String, StackError> {
        read_secret(&self.store_password_file())
    }

    /// A Kafka user's password.
    pub fn kafka_password(&self, user: &str) -> Result<String, StackError> {
        read_secret(&self.kafka_password_file(user))
    }

    /// A Pulsar role's token.
    pub fn pulsar_token(&self, role: &str) -> Result<String, StackError> {
        read_secret(&self.pulsar_token_file(role))
    }

    /// A token for `role` signed with the stack's Pulsar key that expired at `expired_at`
    /// (seconds since 1970): what an expired credential looks like.
    pub fn expired_pulsar_token(&self, role: &str, expired_at: u64) -> Result<String, StackError> {
        let path = self.pulsar_secret_key();
        let key = fs::read(&path).map_err(io(&path))?;
        Ok(jwt_hs256(&key, role, Some(expired_at)))
    }

    /// Makes whatever is missing: the CA and server certificate, the stores, the passwords, the
    /// signing key and tokens. `java` is the JDK whose `keytool` writes the trust store.
    pub fn ensure(&self, java: &Path) -> Result<(), StackError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        fs::set_permissions(&self.dir, Permissions::from_mode(0o700)).map_err(io(&self.dir))?;
        if !self.server_cert().exists() || !self.ca().exists() {
            self.make_certificates()?;
        }
        if !self.store_password_file().exists() {
            write_secret(&self.store_password_file(), random_secret().as_bytes())?;
        }
        if !self.flink_keystore().exists() || !self.flink_truststore().exists() {
            self.make_stores(java)?;
        }
        for user in USERS {
            let file = self.kafka_password_file(user);
            if !file.exists() {
                write_secret(&file, random_secret().as_bytes())?;
            }
        }
        if !self.pulsar_secret_key().exists() {
            let key: [u8; 32] = rand::random();
            write_secret(&self.pulsar_secret_key(), &key)?;
        }
        let key_path = self.pulsar_secret_key();
        let key = fs::read(&key_path).map_err(io(&key_path))?;
        for role in USERS {
            let file = self.pulsar_token_file(role);
            if !file.exists() {
                write_secret(&file, jwt_hs256(&key, role, None).as_bytes())?;
            }
        }
        Ok(())
    }

    fn make_certificates(&self) -> Result<(), StackError> {
        let dir = &self.dir;
        let ca_key = dir.join("ca.key");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=flinkit local CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                path_str(&ca_key),
                "-out",
                path_str(&self.ca()),
            ],
        )?;
        let csr = dir.join("server.csr");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                path_str(&self.server_key()),
                "-out",
                path_str(&csr),
            ],
        )?;
        let ext = dir.join("server.ext");
        fs::write(
            &ext,
            "basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .map_err(io(&ext))?;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "825",
                "-in",
                path_str(&csr),
                "-CA",
                path_str(&self.ca()),
                "-CAkey",
                path_str(&ca_key),
                "-CAcreateserial",
                "-extfile",
                path_str(&ext),
                "-out",
                path_str(&self.server_cert()),
            ],
        )?;
        for path in [&ca_key, &self.server_key()] {
            fs::set_permissions(path, Permissions::from_mode(0o600)).map_err(io(path))?;
        }
        let read = |path: &Path| fs::read_to_string(path).map_err(io(path));
        let keystore = read(&self.server_key())? + &read(&self.server_cert())?;
        write_secret(&self.kafka_keystore(), keystore.as_bytes())?;
        for leftover in [csr, ext, dir.join("ca.srl")] {
            let _ = fs::remove_file(leftover);
        }
        let _ = fs::remove_file(self.flink_keystore());
        let _ = fs::remove_file(self.flink_truststore());
        Ok(())
    }

    fn make_stores(&self, java: &Path) -> Result<(), StackError> {
        let password = self.store_password()?;
        let pass = format!("file:{}", self.store_password_file().display());
        let _ = fs::remove_file(self.flink_keystore());
        let _ = fs::remove_file(self.flink_truststore());
        openssl(
            &self.dir,
            &[
                "pkcs12",
                "-export",
                "-name",
                "flinkit",
                "-in",
                path_str(&self.server_cert()),
                "-inkey",
                path_str(&self.server_key()),
                "-certfile",
                path_str(&self.ca()),
                "-passout",
                &pass,
                "-out",
                path_str(&self.flink_keystore()),
            ],
        )?;
        let keytool = java.with_file_name("keytool");
        // keytool reads the store password from its standard input (-storepass:file would
        // need a second file; a flag would show it in the process list).
        let mut child = Command::new(&keytool)
            .args(["-importcert", "-noprompt", "-alias", "flinkit-ca"])
            .arg("-file")
            .arg(self.ca())
            .arg("-keystore")
            .arg(self.flink_truststore())
            .args(["-storetype", "PKCS12"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| StackError::Spawn {
                what: format!("{} (the trust store for Flink)", keytool.display()),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // Asked twice: the new store's password and its confirmation.
            let _ = writeln!(stdin, "{password}\n{password}");
        }
        let output = child.wait_with_output().map_err(io(&keytool))?;
        if !output.status.success() {
            return Err(StackError::Credentials(format!(
                "keytool could not write {}: {}",
                self.flink_truststore().display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        for path in [self.flink_keystore(), self.flink_truststore()] {
            fs::set_permissions(&path, Permissions::from_mode(0o600)).map_err(io(&path))?;
        }
        Ok(())
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Runs `openssl ARGS` in `dir`; its error output becomes the error.
fn openssl(dir: &Path, args: &[&str]) -> Result<(), StackError> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| StackError::Spawn {
            what: "openssl (apt-get install openssl)".into(),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(StackError::Credentials(format!(
        "openssl {} failed: {}",
        args.first().copied().unwrap_or_default(),
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// Writes a secret into a new file only its owner may read.
fn write_secret(path: &Path, content: &[u8]) -> Result<(), StackError> {
    let _ = fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(content).map_err(io(path))
}

fn read_secret(path: &Path) -> Result<String, StackError> {
    Ok(fs::read_to_string(path)
        .map_err(io(path))?
        .trim()
        .to_string())
}

/// 32 random hex digits.
fn random_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JWT signed with HMAC-SHA256 whose subject is `subject` (Pulsar's role), with an
/// expiry when given: what `pulsar tokens create --secret-key` makes.
fn jwt_hs256(key: &[u8], subject: &str, expires_at: Option<u64>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    let mut claims = serde_json::json!({ "sub": subject });
    if let Some(exp) = expires_at {
        claims["exp"] = exp.into();
    }
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    // HMAC accepts a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_matches_the_rfc_7515_hs256_layout() {
        let token = jwt_hs256(b"secret", "flinkit", Some(1));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims, serde_json::json!({"sub": "flinkit", "exp": 1}));
        // The signature of `header.payload` with the key, as any JWT library computes it.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            mac.finalize().into_bytes().to_vec()
        );
        assert_ne!(token, jwt_hs256(b"other", "flinkit", Some(1)));
    }

    #[test]
    fn secrets_are_made_once_and_readable_only_by_their_owner() {
        let java = crate::provision::find_java().unwrap().path;
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::at(dir.path().join("secrets"));
        secrets.ensure(&java).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(secrets.dir()), 0o700);
        for file in [
            secrets.server_key(),
            secrets.kafka_keystore(),
            secrets.store_password_file(),
            secrets.kafka_password_file("flinkit"),
            secrets.pulsar_token_file("flinkit"),
            secrets.pulsar_secret_key(),
            secrets.flink_keystore(),
        ] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        let password = secrets.kafka_password("flinkit").unwrap();
        assert_eq!(password.len(), 32);
        secrets.ensure(&java).unwrap();
        assert_eq!(secrets.kafka_password("flinkit").unwrap(), password);
        let verify = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(secrets.ca())
            .arg(secrets.server_cert())
            .output()
            .unwrap();
        assert!(verify.status.success(), "{verify:?}");
    }
}
