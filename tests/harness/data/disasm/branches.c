/* A few branch targets and a static helper: what makes an objdump listing head blocks that are not
 * functions (assembler labels kept for linker relaxation, symbol-relative names). Compiled for each
 * target by capture.py; the listings beside it are what its objdump printed. */
static float scale(float x, int n) {
    for (int i = 0; i < n; ++i) x = x * 0.5f + (float)i;
    return x;
}

float first_kernel(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; ++i)
        if (a[i] > b[i]) sum += a[i] * b[i];
        else sum -= scale(b[i], i & 3);
    return sum;
}

int second_kernel(int *out, const int *in, int n) {
    int count = 0;
    for (int i = 0; i < n; ++i) {
        if (in[i] < 0) continue;
        out[count++] = in[i] * 3;
    }
    return count;
}
