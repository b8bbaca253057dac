//! Image decoding: a cheap header probe (format, size, colour) that refuses decompression bombs
//! before any pixel buffer is allocated, then a bounded decode, colour conversion and resize to
//! the model's input in channel-major bytes.

use super::error::{first_line, DatasetError};
use super::{Preprocess, ResizeMode};
use image::{imageops::FilterType, DynamicImage, ImageFormat, ImageReader};
use std::io::Cursor;
use std::path::Path;

/// What the header of an image says, without decoding pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub has_color: bool,
}

fn reader<'a>(path: &Path, bytes: &'a [u8]) -> Result<ImageReader<Cursor<&'a [u8]>>, DatasetError> {
    let corrupt = |reason: String| DatasetError::CorruptImage {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| corrupt(first_line(&e.to_string())))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp | ImageFormat::Tiff) => {
            Ok(reader)
        }
        _ => Err(corrupt("not a PNG, JPEG, BMP or TIFF image".into())),
    }
}

/// Reads the header and enforces the pixel-count limit.
pub(crate) fn probe(path: &Path, bytes: &[u8], max_pixels: u64) -> Result<Header, DatasetError> {
    use image::ImageDecoder;
    let corrupt = |e: image::ImageError| DatasetError::CorruptImage {
        path: path.to_path_buf(),
        reason: first_line(&e.to_string()),
    };
    let reader = reader(path, bytes)?;
    let format = reader.format().unwrap_or(ImageFormat::Png);
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(DatasetError::ImageTooLarge {
            path: path.to_path_buf(),
            width: width.into(),
            height: height.into(),
            limit: max_pixels,
        });
    }
    if pixels == 0 {
        return Err(DatasetError::CorruptImage {
            path: path.to_path_buf(),
            reason: "image has no pixels".into(),
        });
    }
    let has_color = decoder.color_type().has_color();
    Ok(Header {
        format,
        width,
        height,
        has_color,
    })
}

/// Decodes, converts to the model's channels and resizes; returns `C*H*W` bytes.
pub(crate) fn decode(
    path: &Path,
    bytes: &[u8],
    header: &Header,
    pre: &Preprocess,
) -> Result<Vec<u8>, DatasetError> {
    let mut reader = reader(path, bytes)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(header.width);
    limits.max_image_height = Some(header.height);
    // Room for the largest colour type (16-bit RGBA) of the already vetted size.
    limits.max_alloc = Some(u64::from(header.width) * u64::from(header.height) * 8 + (1 << 20));
    reader.limits(limits);
    let image = reader.decode().map_err(|e| DatasetError::CorruptImage {
        path: path.to_path_buf(),
        reason: first_line(&e.to_string()),
    })?;
    Ok(convert(&image, pre))
}

/// Channel conversion and resize of a decoded image to `C*H*W` bytes.
pub fn convert(image: &DynamicImage, pre: &Preprocess) -> Vec<u8> {
    let (w, h) = (pre.width, pre.height);
    if pre.channels == 1 {
        let gray = resize(
            &DynamicImage::ImageLuma8(image.to_luma8()),
            w,
            h,
            pre.resize,
        )
        .to_luma8();
        gray.into_raw()
    } else {
        let rgb = resize(&DynamicImage::ImageRgb8(image.to_rgb8()), w, h, pre.resize).to_rgb8();
        let plane = (w * h) as usize;
        let mut out = vec![0u8; plane * 3];
        for (i, px) in rgb.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = px.0[c];
            }
        }
        out
    }
}

fn resize(image: &DynamicImage, w: u32, h: u32, mode: ResizeMode) -> DynamicImage {
    if image.width() == w && image.height() == h {
        return image.clone();
    }
    match mode {
        ResizeMode::Stretch => image.resize_exact(w, h, FilterType::Triangle),
        ResizeMode::FitPad => {
            let fitted = image.resize(w, h, FilterType::Triangle);
            // Pages have light backgrounds, so the padding is white.
            let mut canvas = match image {
                DynamicImage::ImageLuma8(_) => {
                    DynamicImage::ImageLuma8(image::GrayImage::from_pixel(w, h, image::Luma([255])))
                }
                _ => DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
                    w,
                    h,
                    image::Rgb([255, 255, 255]),
                )),
            };
            let x = (w - fitted.width()) / 2;
            let y = (h - fitted.height()) / 2;
            image::imageops::overlay(&mut canvas, &fitted, x.into(), y.into());
            canvas
        }
    }
}
