//! Photos: what an uploaded image is (decided by its bytes alone), and where it is kept.
//!
//! An upload is accepted when its bytes start with the magic number of PNG, JPEG, GIF or WebP
//! *and* its header decodes to sensible dimensions ([`inspect`]); the name and media type the
//! client declared decide nothing. It is stored through `object_store` ([`Photos`]) — a local
//! directory by default, memory, or an S3-compatible bucket — under a key of 32 random hex
//! digits and the extension of the detected type, never a name the client chose. The key is
//! what the database keeps; the type served and the ETag follow from it (an object is never
//! rewritten: a new photo is a new key).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::Error;

/// The largest photo accepted, in bytes (2 MiB).
pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;

/// The largest width or height accepted, in pixels (WebP's own limit is 16383).
pub const MAX_DIMENSION: usize = 16_384;

/// The kinds of image accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    pub const ALL: [ImageType; 4] = [ImageType::Png, ImageType::Jpeg, ImageType::Gif, ImageType::Webp];

    /// The media type it is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }

    /// The extension of its stored objects.
    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
            ImageType::Gif => "gif",
            ImageType::Webp => "webp",
        }
    }

    /// The type whose magic number `bytes` start with.
    fn sniff(bytes: &[u8]) -> Option<ImageType> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageType::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else {
            None
        }
    }

    fn from_extension(extension: &str) -> Option<ImageType> {
        ImageType::ALL.into_iter().find(|t| t.extension() == extension)
    }
}

/// What [`inspect`] found in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    pub kind: ImageType,
    pub width: usize,
    pub height: usize,
}

/// Decides what `bytes` are: an image of an accepted type whose header decodes to dimensions
/// in 1..=[`MAX_DIMENSION`], no larger than [`MAX_PHOTO_BYTES`]. Otherwise 413 (too large) or
/// 415 (anything else: text, another format, a truncated or inconsistent header).
pub fn inspect(bytes: &[u8]) -> Result<Image, Error> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(Error::TooLarge(format!("a photo may be at most {MAX_PHOTO_BYTES} bytes (2 MiB)")));
    }
    let unsupported =
        |why: &str| Error::UnsupportedMediaType(format!("{why}; a photo must be PNG, JPEG, GIF or WebP"));
    let kind = ImageType::sniff(bytes).ok_or_else(|| unsupported("the content is not an image"))?;
    let parsed = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => ImageType::Png,
        Ok(imagesize::ImageType::Jpeg) => ImageType::Jpeg,
        Ok(imagesize::ImageType::Gif) => ImageType::Gif,
        Ok(imagesize::ImageType::Webp) => ImageType::Webp,
        _ => return Err(unsupported("the image's header cannot be read")),
    };
    if parsed != kind {
        return Err(unsupported("the image's header cannot be read"));
    }
    let size = imagesize::blob_size(bytes).map_err(|_| unsupported("the image's header cannot be read"))?;
    let fits = |side: usize| (1..=MAX_DIMENSION).contains(&side);
    if !fits(size.width) || !fits(size.height) {
        return Err(unsupported(&format!(
            "the image is {}×{} pixels (each side must be 1 to {MAX_DIMENSION})",
            size.width, size.height
        )));
    }
    Ok(Image { kind, width: size.width, height: size.height })
}

/// Where photos are kept: the `photo_store` configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (`file:///var/lib/storefront/photos`, or a plain path), created at start.
    Directory(PathBuf),
    /// In memory (`memory://`): gone at restart; for trials and tests.
    Memory,
    /// An S3-compatible bucket (`s3://bucket/prefix`); credentials, region and endpoint from the
    /// usual `AWS_*` environment variables.
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// The default: a `photos` directory next to the SQLite database file, else `./photos`.
    pub fn default_for(database_url: &str) -> Location {
        let sqlite_path = database_url
            .strip_prefix("sqlite:")
            .map(|rest| rest.strip_prefix("//").unwrap_or(rest))
            .map(|rest| rest.split('?').next().unwrap_or_default())
            .filter(|path| !path.is_empty() && !path.starts_with(":memory:"));
        let parent = sqlite_path.and_then(|path| Path::new(path).parent()).unwrap_or(Path::new(""));
        Location::Directory(parent.join("photos"))
    }
}

impl std::str::FromStr for Location {
    type Err = String;

    fn from_str(text: &str) -> Result<Location, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty (a file:// URL or path, memory://, or s3://bucket/prefix)".into());
        }
        if !text.contains("://") {
            return Ok(Location::Directory(PathBuf::from(text)));
        }
        let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(Location::Directory)
                .map_err(|()| format!("{text:?} is not a local directory (file:///absolute/path)")),
            "memory" => Ok(Location::Memory),
            "s3" => {
                let bucket = url
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| format!("{text:?} names no bucket (s3://bucket/prefix)"))?;
                Ok(Location::S3 {
                    bucket: bucket.to_string(),
                    prefix: url.path().trim_matches('/').to_string(),
                })
            }
            other => {
                Err(format!("{text:?}: the scheme {other}:// is not supported (file://, memory:// or s3://)"))
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Directory(path) => write!(f, "{}", path.display()),
            Location::Memory => f.write_str("memory://"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// A photo as stored: its bytes, the type they are, and a strong ETag.
#[derive(Debug, Clone)]
pub struct StoredPhoto {
    pub bytes: Bytes,
    pub kind: ImageType,
    /// Quoted: the key's random part (an object is never rewritten, so the key versions it).
    pub etag: String,
}

/// The photo store: objects under random keys.
#[derive(Clone)]
pub struct Photos {
    store: Arc<dyn ObjectStore>,
    location: Location,
}

impl fmt::Debug for Photos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photos").field("location", &self.location).finish_non_exhaustive()
    }
}

impl Photos {
    /// Opens the store at `location`; a directory is created when missing.
    pub fn open(location: &Location) -> Result<Photos, String> {
        let store: Arc<dyn ObjectStore> = match location {
            Location::Directory(path) => {
                std::fs::create_dir_all(path)
                    .map_err(|e| format!("photo_store: creating the directory {}: {e}", path.display()))?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(path)
                    .map_err(|e| format!("photo_store: the directory {}: {e}", path.display()))?;
                Arc::new(local)
            }
            Location::Memory => Arc::new(object_store::memory::InMemory::new()),
            Location::S3 { bucket, prefix } => {
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| format!("photo_store: the S3 bucket {bucket}: {e}"))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(s3, prefix.as_str()))
                }
            }
        };
        Ok(Photos { store, location: location.clone() })
    }

    /// Photos kept in memory (for tests and the operator's tasks that touch none).
    pub fn in_memory() -> Photos {
        Photos { store: Arc::new(object_store::memory::InMemory::new()), location: Location::Memory }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Checks `bytes` ([`inspect`]) and stores them under a new random key, which it returns.
    pub async fn put(&self, bytes: Bytes) -> Result<String, Error> {
        let image = inspect(&bytes)?;
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| Error::internal(format!("no randomness for a photo key: {e}")))?;
        let key = format!("{}.{}", hex::encode(random), image.kind.extension());
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        self.store
            .put_opts(&ObjectPath::from(key.as_str()), PutPayload::from(bytes), options)
            .await
            .map_err(|e| Error::internal(format!("storing a photo: {e}")))?;
        Ok(key)
    }

    /// The photo under `key`; `None` when there is none (a key the database holds whose object
    /// has gone is reported so too).
    pub async fn get(&self, key: &str) -> Result<Option<StoredPhoto>, Error> {
        let (stem, kind) =
            parse_key(key).ok_or_else(|| Error::internal(format!("a malformed photo key: {key:?}")))?;
        let found = match self.store.get(&ObjectPath::from(key)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::internal(format!("reading a photo: {e}"))),
        };
        let bytes = found.bytes().await.map_err(|e| Error::internal(format!("reading a photo: {e}")))?;
        Ok(Some(StoredPhoto { bytes, kind, etag: format!("\"{stem}\"") }))
    }

    /// Removes the photo under `key` (nothing to do when it is already gone).
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        if parse_key(key).is_none() {
            return Err(Error::internal(format!("a malformed photo key: {key:?}")));
        }
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::internal(format!("deleting a photo: {e}"))),
        }
    }
}

/// A key's random part and type: `<32 hex digits>.<extension>`, nothing else.
fn parse_key(key: &str) -> Option<(&str, ImageType)> {
    let (stem, extension) = key.split_once('.')?;
    let random = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    random.then_some(())?;
    Some((stem, ImageType::from_extension(extension)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../tests/fixtures/photos/tiny.png");
    const JPEG: &[u8] = include_bytes!("../tests/fixtures/photos/tiny.jpg");
    const GIF: &[u8] = include_bytes!("../tests/fixtures/photos/tiny.gif");
    const WEBP: &[u8] = include_bytes!("../tests/fixtures/photos/tiny.webp");
    const WEBP_LOSSLESS: &[u8] = include_bytes!("../tests/fixtures/photos/tiny-lossless.webp");
    const TEXT: &[u8] = include_bytes!("../tests/fixtures/photos/not-an-image.jpg");

    fn unsupported(bytes: &[u8]) -> bool {
        matches!(inspect(bytes), Err(Error::UnsupportedMediaType(_)))
    }

    #[test]
    fn real_images_are_recognised_by_their_bytes() {
        let image = |kind, width, height| Image { kind, width, height };
        assert_eq!(inspect(PNG).unwrap(), image(ImageType::Png, 2, 1));
        assert_eq!(inspect(JPEG).unwrap(), image(ImageType::Jpeg, 8, 8));
        assert_eq!(inspect(GIF).unwrap(), image(ImageType::Gif, 1, 1));
        assert_eq!(inspect(WEBP).unwrap(), image(ImageType::Webp, 1, 1));
        assert_eq!(inspect(WEBP_LOSSLESS).unwrap(), image(ImageType::Webp, 1, 1));
    }

    #[test]
    fn text_and_other_formats_are_refused() {
        assert!(unsupported(TEXT));
        assert!(unsupported(b""));
        assert!(unsupported(b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00")); // BMP
        assert!(unsupported(b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>"));
        assert!(unsupported(b"RIFF\x24\x00\x00\x00WAVEfmt ")); // RIFF, but audio
    }

    #[test]
    fn truncated_headers_are_refused() {
        // Each image cut one byte before its dimensions end, and at the magic number.
        for (image, cut) in [(PNG, 23), (GIF, 9), (WEBP, 29), (WEBP_LOSSLESS, 24), (JPEG, 71)] {
            for len in [3, 8, cut] {
                assert!(unsupported(&image[..len]), "{:?} cut at {len}", ImageType::sniff(image));
            }
        }
    }

    #[test]
    fn zero_and_absurd_dimensions_are_refused() {
        let with_size = |width: u32, height: u32| {
            let mut png = PNG.to_vec();
            png[16..20].copy_from_slice(&width.to_be_bytes());
            png[20..24].copy_from_slice(&height.to_be_bytes());
            png
        };
        assert!(unsupported(&with_size(0, 1)));
        assert!(unsupported(&with_size(1, 0)));
        assert!(unsupported(&with_size(1, 1_000_000)));
        assert!(inspect(&with_size(16_384, 16_384)).is_ok());
    }

    #[test]
    fn a_photo_over_2_mib_is_too_large() {
        let mut big = PNG.to_vec();
        big.resize(MAX_PHOTO_BYTES + 1, 0);
        assert!(matches!(inspect(&big), Err(Error::TooLarge(_))));
        big.truncate(MAX_PHOTO_BYTES);
        assert!(inspect(&big).is_ok());
    }

    #[test]
    fn locations_are_read_from_urls_and_paths() {
        assert_eq!("file:///var/lib/photos".parse(), Ok(Location::Directory("/var/lib/photos".into())));
        assert_eq!("photos".parse(), Ok(Location::Directory("photos".into())));
        assert_eq!("memory://".parse(), Ok(Location::Memory));
        assert_eq!(
            "s3://bucket/some/prefix/".parse(),
            Ok(Location::S3 { bucket: "bucket".into(), prefix: "some/prefix".into() })
        );
        assert!("ftp://host/x".parse::<Location>().is_err());
        assert!("s3:///x".parse::<Location>().is_err());
        assert!("".parse::<Location>().is_err());
    }

    #[test]
    fn the_default_location_is_next_to_the_sqlite_file() {
        let dir = |path: &str| Location::Directory(path.into());
        assert_eq!(Location::default_for("sqlite://storefront.db"), dir("photos"));
        assert_eq!(
            Location::default_for("sqlite:///var/lib/sf/store.db?mode=rwc"),
            dir("/var/lib/sf/photos")
        );
        assert_eq!(Location::default_for("sqlite::memory:"), dir("photos"));
        assert_eq!(Location::default_for("postgres://u@h/db"), dir("photos"));
    }

    #[test]
    fn keys_are_random_hex_and_the_detected_extension_only() {
        assert_eq!(
            parse_key("0123456789abcdef0123456789abcdef.png"),
            Some(("0123456789abcdef0123456789abcdef", ImageType::Png))
        );
        assert_eq!(parse_key("../../etc/passwd"), None);
        assert_eq!(parse_key("0123456789abcdef0123456789abcdef.exe"), None);
        assert_eq!(parse_key("0123456789ABCDEF0123456789abcdef.png"), None);
    }

    #[tokio::test]
    async fn a_stored_photo_comes_back_with_its_type_and_goes() {
        let photos = Photos::in_memory();
        let key = photos.put(Bytes::from_static(GIF)).await.unwrap();
        assert!(key.ends_with(".gif") && key.len() == 36, "{key}");
        let stored = photos.get(&key).await.unwrap().unwrap();
        assert_eq!((stored.bytes.as_ref(), stored.kind), (GIF, ImageType::Gif));
        assert_eq!(stored.etag, format!("\"{}\"", &key[..32]));
        photos.delete(&key).await.unwrap();
        assert!(photos.get(&key).await.unwrap().is_none());
        photos.delete(&key).await.unwrap();
        assert!(photos.put(Bytes::from_static(TEXT)).await.is_err());
    }
}
