//! Figures derived from a confusion matrix: per-class precision and recall, macro F1 and
//! balanced accuracy (for metric points and a produced model's metrics).

/// Per-class figures derived from a confusion matrix (`[true][predicted]`). A class never
/// predicted has precision 0; a class with no test images has recall 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFigures {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub macro_f1: f64,
    pub balanced_accuracy: f64,
}

impl ClassFigures {
    pub fn from_confusion(confusion: &[Vec<u64>]) -> Self {
        let n = confusion.len();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let recall: Vec<f64> = (0..n)
            .map(|c| ratio(confusion[c][c], confusion[c].iter().sum()))
            .collect();
        let precision: Vec<f64> = (0..n)
            .map(|c| ratio(confusion[c][c], confusion.iter().map(|row| row[c]).sum()))
            .collect();
        let f1: Vec<f64> = precision
            .iter()
            .zip(&recall)
            .map(|(p, r)| {
                if p + r == 0.0 {
                    0.0
                } else {
                    2.0 * p * r / (p + r)
                }
            })
            .collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        Self {
            macro_f1: mean(&f1),
            balanced_accuracy: mean(&recall),
            precision,
            recall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_figures_follow_their_definitions() {
        // Class 0: 8 of 10 right, 2 taken for class 1; class 1: 5 of 5 right.
        let f = ClassFigures::from_confusion(&[vec![8, 2], vec![0, 5]]);
        assert_eq!(f.recall, [0.8, 1.0]);
        assert_eq!(f.precision, [1.0, 5.0 / 7.0]);
        let f1_0 = 2.0 * 0.8 / 1.8;
        let f1_1 = 2.0 * (5.0 / 7.0) / (5.0 / 7.0 + 1.0);
        assert!((f.macro_f1 - (f1_0 + f1_1) / 2.0).abs() < 1e-12);
        assert!((f.balanced_accuracy - 0.9).abs() < 1e-12);
    }
}
